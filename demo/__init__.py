"""OpenVINO instance segmentation demo."""
