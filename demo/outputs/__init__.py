"""Where results go: video and image files, results and exports for other tools, a model repository
for a model server, the live view in a browser, the virtual camera and the window.
"""
