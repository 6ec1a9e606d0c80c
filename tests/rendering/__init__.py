"""Rendering, catalogs and previews."""
