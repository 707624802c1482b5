"""What a result looks like: instances drawn on the frame, and the background and privacy composites.
"""
