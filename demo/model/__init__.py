"""The model: contracts recognised by shape, pre-processing embedded in the graph, the local and the
remote (KServe v2) engines, the catalogue and downloads, decoding into instances, the ordered
asynchronous pipeline, and the Segmenter that puts them together.
"""
