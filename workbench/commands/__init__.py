"""One module per `rtsp-workbench` subcommand; each defines ``register(subparsers)``."""
