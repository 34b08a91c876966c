"""Facial-expression spotting data: the layout (docs/spotting.md), its readers, validation, importers and dataset."""
