from _s3server import s3_server, s3_url  # noqa: F401 - fixtures for the contract suite
