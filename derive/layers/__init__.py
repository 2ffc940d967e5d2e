"""Layer kinds beyond the dense layer: conv2d, maxpool2d, avgpool2d, flatten.

One module per kind (:mod:`derive.layers.conv2d`, :mod:`derive.layers.pool2d`,
:mod:`derive.layers.flatten`) holds its indexed definition and the partials SymPy derives from
it; :mod:`derive.layers.grid` reads a spec whose input is an image ``[C, H, W]`` or whose layers
have a ``type``, and checks every shape; :mod:`derive.layers.network` derives such a network.

Shapes: a sample of a grid layer is (channels, height, width), as in PyTorch; a batch is
(n, C, H, W). The generated code keeps the same numbers in (n, H, W, C) order inside, where
im2col is a view; flatten reads in (C, H, W) order, as PyTorch's flatten does.
"""
