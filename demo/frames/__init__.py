"""Where frames come from: images, folders, patterns, videos, cameras and streams (read on threads of
their own, reconnected when they drop), and the merger that takes turns between several sources.
"""
