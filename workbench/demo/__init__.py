"""The demo (`rtsp-workbench demo`): the scripted sessions against our server, the
negative cases, the Tk player under Xvfb, the judging of what the capture shows, and the
console view. Only the demo command imports these modules."""
