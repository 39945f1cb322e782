"""The embedded default: the Lambda handlers run in-process on local folders, as AWS would run them."""
