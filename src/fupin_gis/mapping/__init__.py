"""Folium maps built from the catalog, with every script and stylesheet served by the app."""
