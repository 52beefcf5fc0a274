"""A ``Conv1D(filters=1, kernel_size=1)`` head, in Keras terms and in PyTorch.

What the layer computes
-----------------------
A 1-D convolution slides a window along the *time* axis of a sequence and, at every position,
takes a weighted sum over the window *and over all input channels*. ``filters`` is the number of
output channels (one weight set each) and ``kernel_size`` is how many consecutive timesteps the
window covers. With ``kernel_size=1`` the window is a single timestep, so nothing is mixed across
time: every timestep's channel vector goes through the same ``C -> filters`` linear map. A
``Conv1D(filters=1, kernel_size=1)`` head on a transformer's ``(batch, tokens, hidden)`` output
therefore scores every token with one shared dot product plus a bias, exactly what
``nn.Linear(hidden, 1)`` applied per token does.

Layouts: Keras is channels-last, PyTorch channels-first
-------------------------------------------------------
Keras ``Conv1D`` expects ``(N, T, C)`` (batch, timesteps, channels) by default, and its kernel has
shape ``(kernel_size, C_in, filters)``. PyTorch ``nn.Conv1d`` expects ``(N, C, T)`` and its weight
has shape ``(C_out, C_in, kernel_size)`` (``demo_keras_layers_here`` builds the Keras layers in
the site's Keras environments). The arithmetic is the same; only the axis order differs.
A Keras-style ``(N, T, C)`` tensor must be permuted to ``(N, C, T)`` before ``nn.Conv1d`` and back
afterwards. Without the permute, ``nn.Conv1d(C, ...)`` refuses the input (it finds T channels),
and an ``nn.Conv1d(T, ...)`` built to fit would run but treat the timesteps as channels, which is
wrong without any error.

Channel dropout: ``nn.Dropout1d`` and Keras ``SpatialDropout1D``
-----------------------------------------------------------------
``nn.Dropout1d`` takes a 2-D ``(C, L)`` or 3-D ``(N, C, L)`` tensor (anything else is an error) and
zeroes *entire rows along dimension 1*, scaling what it keeps by ``1 / (1 - p)``. On ``(N, C, T)``
those rows are channels: a dropped channel is zero at every timestep. That is the behaviour of
Keras ``SpatialDropout1D`` on its ``(N, T, C)`` input ("drops entire 1D feature maps"). Applied
directly to ``(N, T, C)``, the same layer sees T as its channel axis and zeroes whole timesteps
(all features of a token) instead.

What the original notes got right and wrong
-------------------------------------------
* "1 filter (output channel), kernel_size = length of the 1D convolution window": right.
* "Convolution is applied on the second dimension. eg (4, 10, 128) -> on dim=1 (shape=(10,))":
  right for Keras' ``(N, T, C)`` in the sense that the window slides along dim 1 (the 10
  timesteps), but incomplete: every output mixes all 128 channels, and in PyTorch the same
  tensor must first be permuted to ``(4, 128, 10)`` (``demo_keras_layout_in_pytorch``).
* "To run sample, need to use the convolution weights": right; one output is the dot product of
  one timestep's 128 features with the weights, plus the bias (``demo_one_output_by_hand``), and
  the whole layer is a per-timestep ``nn.Linear`` (``demo_kernel_size_one_is_a_linear_layer``,
  ``demo_kernel_window_as_a_linear_map``).
* "There are differences in conv1d implementation in pytorch and tensorflow": the difference is
  the axis order (and the weight layout), not the computation.
* "To use appropriate dropout on the timestep, we need to convert data from (N,T,C) ->
  dropout((N, C, T)) -> (N,T,C)": wrong about what gets dropped. That recipe zeroes whole
  *channels* across all timesteps (Keras ``SpatialDropout1D`` semantics), which is the right
  recipe for porting ``SpatialDropout1D``. To drop whole *timesteps*, apply ``nn.Dropout1d`` to
  the ``(N, T, C)`` tensor as it is (``demo_dropout1d_zero_patterns``,
  ``demo_dropout1d_structure``).
"""

from __future__ import annotations

from refkit.engine.device import get_device, seed_everything
from refkit.engine.references import Reference

__all__ = [
    "ENVIRONMENTS",
    "REFERENCES",
    "TITLE",
    "demo_dropout1d_structure",
    "demo_dropout1d_zero_patterns",
    "demo_keras_layers_here",
    "demo_keras_layout_in_pytorch",
    "demo_kernel_size_one_is_a_linear_layer",
    "demo_kernel_window_as_a_linear_map",
    "demo_one_output_by_hand",
]

ENVIRONMENTS = {
    # Where Keras is installed: Keras 2.12, Keras 3, and Keras 2 as tf-keras.
    "demo_keras_layers_here": ("default", "tf-2.12", "keras-3", "tf-keras"),
}
"""Where snippets run besides the default environment (see the site's Environment page)."""

TITLE: str = "What Conv1D(filters=1, kernel_size=1) means, and Dropout1d on (N, C, T)"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        url="https://towardsdatascience.com/understanding-1d-and-3d-convolution-neural-network-keras-9d8f76e29610",
        title="Understanding 1D and 3D Convolution Neural Network | Keras (Towards Data Science)",
        good_for=(
            "Background on how 1-D and 3-D convolution kernels move over their input, in Keras "
            "terms; the notes judged it not necessarily useful for the Conv1D head question."
        ),
    ),
    Reference(
        url="https://pytorch.org/docs/stable/generated/torch.nn.Dropout1d.html",
        title="torch.nn.Dropout1d (PyTorch documentation)",
        good_for=(
            "The accepted shapes (C, L) or (N, C, L) and the rule that whole channels are "
            "zeroed with probability p."
        ),
    ),
)


def demo_keras_layout_in_pytorch() -> None:
    """Run a Keras-style ``(N, T, C)`` batch through ``nn.Conv1d`` the right and the wrong way.

    PyTorch convolves over the last axis and reads channels from dim 1, so a channels-last
    tensor must be permuted; skipping the permute either fails or silently swaps the roles of
    time and channels.

    Examples:
        >>> demo_keras_layout_in_pytorch()
        Keras-style input (N, T, C): (4, 10, 128)
        conv weight (C_out, C_in, kernel_size): (1, 128, 1)
        permuted for Conv1d (N, C, T): (4, 128, 10)
        output permuted back (N, T, filters): (4, 10, 1)
        without the permute -> RuntimeError: Given groups=1, weight of size [1, 128, 1], \
expected input[4, 10, 128] to have 128 channels, but got 10 channels instead
        Conv1d(10, 1, 1) on (N, T, C) runs, but gives (4, 1, 128): time and channels swapped
    """
    import torch
    from torch import nn

    seed_everything()
    device = get_device()
    # Draw on the CPU, then move: the CPU generator gives the same numbers on every machine.
    tokens = torch.randn(4, 10, 128).to(device)  # batch 4, 10 timesteps, 128 features
    head = nn.Conv1d(in_channels=128, out_channels=1, kernel_size=1).to(device)
    print("Keras-style input (N, T, C):", tuple(tokens.shape))
    print("conv weight (C_out, C_in, kernel_size):", tuple(head.weight.shape))
    channels_first = tokens.permute(0, 2, 1)
    print("permuted for Conv1d (N, C, T):", tuple(channels_first.shape))
    scores = head(channels_first).permute(0, 2, 1)
    print("output permuted back (N, T, filters):", tuple(scores.shape))
    try:
        head(tokens)
    except RuntimeError as err:
        print("without the permute -> RuntimeError:", err)
    wrong = nn.Conv1d(in_channels=10, out_channels=1, kernel_size=1).to(device)(tokens)
    print(f"Conv1d(10, 1, 1) on (N, T, C) runs, but gives {tuple(wrong.shape)}: "
          "time and channels swapped")


def demo_kernel_size_one_is_a_linear_layer() -> None:
    """Copy a kernel-size-1 convolution's weights into ``nn.Linear`` and get the same outputs.

    With a one-timestep window nothing is mixed across time, so the convolution is the same
    linear map applied to every timestep's feature vector.

    Examples:
        >>> demo_kernel_size_one_is_a_linear_layer()
        conv weight (1, 128, 1) -> linear weight (1, 128)
        output shapes: conv (4, 10, 1), linear (4, 10, 1)
        same outputs: True
    """
    import torch
    from torch import nn

    seed_everything()
    device = get_device()
    tokens = torch.randn(4, 10, 128).to(device)
    conv = nn.Conv1d(128, 1, kernel_size=1).to(device)
    linear = nn.Linear(128, 1).to(device)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.squeeze(-1))  # drop the kernel_size axis of length 1
        linear.bias.copy_(conv.bias)
        from_conv = conv(tokens.permute(0, 2, 1)).permute(0, 2, 1)
        from_linear = linear(tokens)  # nn.Linear works on the last axis: no permute needed
    print(f"conv weight {tuple(conv.weight.shape)} -> linear weight {tuple(linear.weight.shape)}")
    print(f"output shapes: conv {tuple(from_conv.shape)}, linear {tuple(from_linear.shape)}")
    print("same outputs:", torch.allclose(from_conv, from_linear, atol=1e-6))


def demo_kernel_window_as_a_linear_map() -> None:
    """Draw which inputs each output of the convolution reads, for kernel sizes 1 and 3.

    The convolution over a ``(T, C)`` sequence is a linear map from its ``T * C`` numbers to
    ``T`` outputs; its matrix (the Jacobian, taken from the real layer by autograd) says which
    input reaches which output, and with what weight. With ``kernel_size=1`` output t reads the
    C channels of timestep t and nothing else, through the same C weights at every timestep: a
    block diagonal, one ``nn.Linear(C, 1)`` per timestep. With ``kernel_size=3`` each output
    also reads the neighbouring timesteps.

    Examples:
        >>> demo_kernel_window_as_a_linear_map()
        kernel_size=1: output t reads the inputs of timesteps [[0], [1], [2], [3], [4]]
        kernel_size=1: the same 3 weights at every timestep: True
        kernel_size=3: output t reads the inputs of timesteps [[0, 1], [0, 1, 2], [1, 2, 3], \
[2, 3, 4], [3, 4]]
        Weight of each input (timestep, channel) in each output; blank: not read
        axes 'kernel_size=1' y: 'output timestep'
          image 5x15:
            0.381 -0.432 0.471 None None None None None None None None None None None None
            None None None 0.381 -0.432 0.471 None None None None None None None None None
            None None None None None None 0.381 -0.432 0.471 None None None None None None
            None None None None None None None None None 0.381 -0.432 0.471 None None None
            None None None None None None None None None None None None 0.381 -0.432 0.471
        axes 'kernel_size=3' x: 'input: 3 channels of each timestep' y: 'output timestep'
          image 5x15:
            -0.256 -0.311 0.043 -0.224 0.329 -0.285 None None None None None None None None None
            0.28 0.159 0.071 -0.256 -0.311 0.043 -0.224 0.329 -0.285 None None None None None None
            None None None 0.28 0.159 0.071 -0.256 -0.311 0.043 -0.224 0.329 -0.285 None None None
            None None None None None None 0.28 0.159 0.071 -0.256 -0.311 0.043 -0.224 0.329 -0.285
            None None None None None None None None None 0.28 0.159 0.071 -0.256 -0.311 0.043
        axes y: 'weight'
    """
    import numpy as np
    import torch
    from matplotlib.figure import Figure
    from torch import nn

    from refkit.engine.display import show

    # The layers are built on the CPU (their initial weights are then the same everywhere);
    # seed 5 gives weights well away from zero, so no drawn connection looks like a missing one.
    seed_everything(5)
    device = get_device()
    steps, channels = 5, 3
    convs = {
        "kernel_size=1": nn.Conv1d(channels, 1, kernel_size=1).to(device),
        "kernel_size=3": nn.Conv1d(channels, 1, kernel_size=3, padding=1).to(device),
    }
    sequence = torch.randn(steps, channels).to(device)  # Keras layout (T, C), one example
    maps = {}
    for name, conv in convs.items():
        def outputs(x: torch.Tensor, conv: nn.Conv1d = conv) -> torch.Tensor:
            return conv(x.T.unsqueeze(0))[0, 0]  # (T, C) -> (1, C, T) -> T scores

        # d output[t] / d input[t', c], flattened to (T, T * C): the matrix of the linear map.
        jacobian = torch.autograd.functional.jacobian(outputs, sequence)
        maps[name] = jacobian.reshape(steps, steps * channels).cpu()
        reads = [sorted({i // channels for i in row.nonzero().flatten().tolist()})
                 for row in maps[name]]
        print(f"{name}: output t reads the inputs of timesteps {reads}")
        if name == "kernel_size=1":
            blocks = maps[name].reshape(steps, steps, channels)[range(steps), range(steps)]
            print(f"{name}: the same {channels} weights at every timestep:",
                  bool((blocks == blocks[0]).all()))

    scale = max(float(m.abs().max()) for m in maps.values())
    figure = Figure(figsize=(6, 3.2), layout="constrained")
    grid = figure.subplots(2, 1, sharex=True)
    for axes, (name, matrix) in zip(grid, maps.items(), strict=True):
        weights = np.round(matrix.numpy(), 3)
        image = axes.imshow(
            np.ma.masked_equal(weights, 0.0), cmap="viridis", vmin=-scale, vmax=scale
        )
        axes.set(title=name, ylabel="output timestep", yticks=range(steps))
        axes.set_xticks([t * channels + (channels - 1) / 2 for t in range(steps)],
                        [f"t{t}" for t in range(steps)])
        # Thin lines between the timesteps' blocks of channels (minor ticks: no data lines).
        axes.set_xticks([t * channels - 0.5 for t in range(1, steps)], minor=True)
        axes.tick_params(which="minor", length=0)
        axes.grid(which="minor", axis="x", linewidth=0.6)
    grid[-1].set_xlabel(f"input: {channels} channels of each timestep")
    figure.colorbar(image, ax=grid, label="weight", shrink=0.8)
    show(figure, caption="Weight of each input (timestep, channel) in each output; blank: not read")


def demo_one_output_by_hand() -> None:
    """Reproduce one output of the convolution from its weights and bias.

    The output at timestep t is the dot product of that timestep's channel vector with the
    single filter, plus the bias; other timesteps play no part.

    Examples:
        >>> demo_one_output_by_hand()
        input (N, T, C): (1, 3, 4)
        timestep 1 features: [0.4, 0.5, 0.6, 0.7]
        filter weights: [-0.0037, 0.2682, -0.4115, -0.368]
        bias: -0.1926
        by hand: -0.5645
        from the layer: -0.5645
        equal: True
        changing timestep 2 changes outputs at timesteps: [2]
    """
    import torch
    from torch import nn

    seed_everything()
    device = get_device()
    # Readable inputs: 3 timesteps of 4 features each, 0.0 to 1.1.
    tokens = (torch.arange(12.0) / 10).reshape(1, 3, 4).to(device)
    conv = nn.Conv1d(4, 1, kernel_size=1).to(device)
    weights, bias = conv.weight[0, :, 0], conv.bias[0]
    with torch.no_grad():
        outputs = conv(tokens.permute(0, 2, 1))[0, 0]  # (T,) scores, one per timestep
        by_hand = (tokens[0, 1] * weights).sum() + bias
    print("input (N, T, C):", tuple(tokens.shape))
    print("timestep 1 features:", [round(v, 4) for v in tokens[0, 1].cpu().tolist()])
    print("filter weights:", [round(v, 4) for v in weights.detach().cpu().tolist()])
    print(f"bias: {bias.item():.4f}")
    print(f"by hand: {by_hand.item():.4f}")
    print(f"from the layer: {outputs[1].item():.4f}")
    print("equal:", torch.allclose(by_hand, outputs[1], atol=1e-6))

    changed = tokens.clone()
    changed[0, 2] += 1.0
    with torch.no_grad():
        new_outputs = conv(changed.permute(0, 2, 1))[0, 0]
    moved = (~torch.isclose(new_outputs, outputs, atol=1e-6)).nonzero().flatten()
    print("changing timestep 2 changes outputs at timesteps:", moved.cpu().tolist())


def demo_dropout1d_zero_patterns() -> None:
    """Show which entries ``nn.Dropout1d`` zeroes in the notes' recipe and when applied directly.

    The notes permute ``(N, T, C)`` to ``(N, C, T)`` to drop timesteps; the zero pattern on a
    tensor of ones shows that this recipe drops whole channels (columns of zeros), and that
    dropping whole timesteps (rows of zeros) needs the layer on ``(N, T, C)`` as it is. Kept
    entries are scaled to 1 / (1 - 0.5) = 2.

    Examples:
        >>> demo_dropout1d_zero_patterns()
        notes' recipe: dropped channels [1, 3], dropped timesteps []
        direct: dropped channels [], dropped timesteps [0, 1, 3]
        Dropout1d(p=0.5) on a (1, 5, 4) tensor of ones, as (N,T,C): rows are timesteps, \
columns channels; 0 dropped, 2 kept (scaled by 2)
        recipe: on (N,C,T)
            c0  c1  c2  c3
        t0   2   0   2   0
        t1   2   0   2   0
        t2   2   0   2   0
        t3   2   0   2   0
        t4   2   0   2   0
        <BLANKLINE>
        direct: on (N,T,C)
            c0  c1  c2  c3
        t0   0   0   0   0
        t1   0   0   0   0
        t2   2   2   2   2
        t3   0   0   0   0
        t4   2   2   2   2
    """
    import torch
    from torch import nn

    from refkit.engine.display import show
    from refkit.engine.views import matrix_view, side_by_side

    # Dropout masks come from the RNG of the tensor's device, and CPU and CUDA turn the same
    # seed into different masks: this one tensor stays on the CPU so the pattern is the same
    # on every machine. (demo_dropout1d_structure checks the same facts on get_device().)
    seed_everything(4)  # a seed whose masks keep some entries and drop others in both cases
    dropout = nn.Dropout1d(p=0.5)  # a fresh module is in training mode, so it drops
    ones_ntc = torch.ones(1, 5, 4)  # 1 sequence, 5 timesteps, 4 channels
    patterns = {
        "notes' recipe": dropout(ones_ntc.permute(0, 2, 1)).permute(0, 2, 1)[0],
        "direct": dropout(ones_ntc)[0],
    }
    for name, pattern in patterns.items():
        channels = (pattern == 0).all(dim=0).nonzero().flatten().tolist()
        timesteps = (pattern == 0).all(dim=1).nonzero().flatten().tolist()
        print(f"{name}: dropped channels {channels}, dropped timesteps {timesteps}")
    titles = {"notes' recipe": "recipe: on (N,C,T)", "direct": "direct: on (N,T,C)"}
    views = [
        matrix_view(
            pattern.int(),  # whole numbers, printed as they are
            row_labels=[f"t{t}" for t in range(pattern.shape[0])],
            col_labels=[f"c{c}" for c in range(pattern.shape[1])],
            title=titles[name],
            value_range=(0, 2),
        )
        for name, pattern in patterns.items()
    ]
    show(
        side_by_side(*views),
        caption="Dropout1d(p=0.5) on a (1, 5, 4) tensor of ones, as (N,T,C): rows are "
        "timesteps, columns channels; 0 dropped, 2 kept (scaled by 2)",
    )


def demo_dropout1d_structure() -> None:
    """Check on the run device which axis ``nn.Dropout1d`` drops, and which inputs it accepts.

    Whole rows of dimension 1 are zeroed: channels for ``(N, C, T)``, timesteps for
    ``(N, T, C)``. The layer accepts only 2-D or 3-D input.

    Examples:
        >>> demo_dropout1d_structure()
        recipe: each channel is all kept or all dropped over time: True
        recipe: each timestep is all kept or all dropped over channels: False
        direct: each channel is all kept or all dropped over time: False
        direct: each timestep is all kept or all dropped over channels: True
        kept entries scaled to 2.0: True
        4-D input -> RuntimeError: dropout1d: Expected 2D or 3D input, but received a 4D input.
    """
    import torch
    from torch import nn

    seed_everything()
    device = get_device()
    dropout = nn.Dropout1d(p=0.5)
    ones_ntc = torch.ones(8, 16, 32, device=device)  # N=8, T=16, C=32
    recipe = dropout(ones_ntc.permute(0, 2, 1)).permute(0, 2, 1)
    direct = dropout(ones_ntc)

    def constant_along(masked: torch.Tensor, dim: int) -> bool:
        # True when every slice along dim is entirely kept or entirely dropped.
        return bool((masked.amin(dim=dim) == masked.amax(dim=dim)).all())

    for name, masked in (("recipe", recipe), ("direct", direct)):
        print(f"{name}: each channel is all kept or all dropped over time:",
              constant_along(masked, dim=1))
        print(f"{name}: each timestep is all kept or all dropped over channels:",
              constant_along(masked, dim=2))
    kept = torch.cat([recipe[recipe != 0], direct[direct != 0]])
    print("kept entries scaled to 2.0:", bool((kept == 2.0).all()))
    try:
        dropout(torch.ones(1, 2, 3, 4, device=device))
    except RuntimeError as err:
        print("4-D input -> RuntimeError:", str(err).split(" Note")[0])


def demo_keras_layers_here() -> None:
    """Build Keras' ``Conv1D`` and ``SpatialDropout1D`` and look at their shapes and zero patterns.

    The table of layouts and the ``SpatialDropout1D`` claim on this page come from the Keras
    source; this runs them wherever Keras is installed: Keras 2.12 (``tf-2.12``), Keras 3 on
    TensorFlow 2.16 (``keras-3``) and the Keras 2 of ``tf-keras`` (``tf-keras``). The default
    environment has no Keras, so there it only says so.

    Examples:
        >>> demo_keras_layers_here()
        keras: not installed (the other tabs run this where it is)
    """
    from importlib import metadata

    try:
        keras_version = metadata.version("keras")
    except metadata.PackageNotFoundError:
        print("keras: not installed (the other tabs run this where it is)")
        return
    try:  # tf-keras is Keras 2 under another name, and is what transformers uses when present
        import tf_keras as keras

        which = f"tf_keras {metadata.version('tf-keras')}"
    except ImportError:
        import keras

        which = f"keras {keras_version}"
    import numpy as np

    keras.utils.set_random_seed(0)
    print(f"{which}, image_data_format: {keras.backend.image_data_format()}")
    conv = keras.layers.Conv1D(filters=1, kernel_size=1)
    output = conv(np.zeros((4, 10, 128), dtype="float32"))  # (N, T, C): channels last
    print("Conv1D(filters=1, kernel_size=1) on (4, 10, 128) ->", tuple(output.shape))
    wider = keras.layers.Conv1D(filters=2, kernel_size=3)
    wider(np.zeros((4, 10, 128), dtype="float32"))  # a layer makes its kernel on first call
    # Sizes 3, 128 and 2 tell the three axes apart, which kernel_size=1, filters=1 cannot.
    print("Conv1D(filters=2, kernel_size=3) kernel shape:", tuple(wider.kernel.shape))
    dropout = keras.layers.SpatialDropout1D(0.5)
    masked = np.asarray(dropout(np.ones((8, 16, 32), dtype="float32"), training=True))
    over_time = bool((masked.min(axis=1) == masked.max(axis=1)).all())
    over_channels = bool((masked.min(axis=2) == masked.max(axis=2)).all())
    print("SpatialDropout1D on (N, T, C): each channel all kept or all dropped over time:", over_time)
    print("each timestep all kept or all dropped over channels:", over_channels)
    print("kept entries scaled to 2.0:", bool((masked[masked != 0] == 2.0).all()))
