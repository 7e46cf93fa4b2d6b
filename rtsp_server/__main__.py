import sys

from rtsp_server.cli import main

sys.exit(main())
