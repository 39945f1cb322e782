"""bcjourney: link BrokerChooser clicks to partner registrations, from S3 landing files to Athena."""

__version__ = "0.1.0"
