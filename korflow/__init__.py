"""korflow: settings, data sources, datasets and tracking shared by tasks/, flows/ and the CLI."""

__version__ = "0.1.0"
