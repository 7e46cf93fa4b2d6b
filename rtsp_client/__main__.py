import sys

from rtsp_client.cli import main

sys.exit(main())
