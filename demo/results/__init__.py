"""What a frame's segmentation is: instances with their boxes and box-local masks, class names, and the
tracker that gives instances ids that last from frame to frame.
"""
