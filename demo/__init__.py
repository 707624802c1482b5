"""OpenVINO instance segmentation demo."""
import os

# NumPy's OpenBLAS keeps a thread per core spinning after every matrix product: YOLO-seg's mask
# products and the paste's made that ~10 ms of CPU a frame taken from inference, and the demo's
# stages run in parallel already. OpenBLAS reads this when NumPy first loads, so it is set as
# the package loads; import demo before NumPy to have it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
