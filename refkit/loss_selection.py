"""Choosing a loss: CrossEntropyLoss or BCEWithLogitsLoss, for binary, multi-class, multi-label.

The three problems
------------------
* **Multi-class** (exactly one of C classes is right): ``nn.CrossEntropyLoss``. Input: raw logits
  ``(N, C)``. Target: either class indices, dtype ``long``, shape ``(N,)``, each in ``0 .. C-1``;
  or class probabilities, dtype float, shape ``(N, C)`` (soft labels, rows summing to 1). The loss
  applies ``log_softmax`` itself, so the model must output raw logits, not probabilities.
* **Multi-label** (any subset of C labels can be right): ``nn.BCEWithLogitsLoss``. Input: raw
  logits ``(N, C)``. Target: a float multi-hot ``(N, C)`` of the same shape. Each label gets its
  own sigmoid, so the probabilities are independent and need not sum to 1, which is exactly what
  "several labels at once" needs; a softmax would make the labels compete.
* **Binary** (two classes): both work. Either one logit per example with ``BCEWithLogitsLoss``
  (logits and float 0/1 targets of the same shape, ``(N,)`` or ``(N, 1)``), or two logits per
  example with ``CrossEntropyLoss`` (logits ``(N, 2)``, long targets ``(N,)``).

Sigmoid and softmax are the same thing for two classes
------------------------------------------------------
For two logits ``[a, b]``, ``softmax([a, b])[1] = e^b / (e^a + e^b) = 1 / (1 + e^-(b-a))
= sigmoid(b - a)``. So a two-logit model trained with cross-entropy and a one-logit model trained
with binary cross-entropy are the same family of models: feed the logit difference ``b - a`` to
``BCEWithLogitsLoss`` and the loss equals the two-logit ``CrossEntropyLoss`` exactly. How sure the
model looks depends only on the gap between the logits, not on which function turns them into
probabilities. "BCE for binary, CE for multi-class" is a convention (one output unit instead of
two), not a requirement.

``BCELoss`` versus ``BCEWithLogitsLoss``
----------------------------------------
``BCELoss`` takes probabilities (you apply the sigmoid); ``BCEWithLogitsLoss`` takes logits and
fuses the sigmoid into the loss with the log-sum-exp trick. Once a logit is large, ``sigmoid`` in
float32 rounds to exactly 1.0, ``BCELoss`` sees ``log(0)``, clamps it at -100 and its gradient
vanishes; the fused version keeps the exact loss and gradient. Prefer ``BCEWithLogitsLoss``.

What the original notes got wrong
---------------------------------
* "BinaryCrossEntropy for binary, crossentropy for multi-class" (and the TL;DR "BCE: multilabel,
  binary; CE: multiclass"): multi-label does need BCE, multi-class CE; for binary either works
  and they are equivalent (``demo_both_losses_train_binary``,
  ``demo_two_class_softmax_is_sigmoid_of_gap``).
* "crossentropy loss will take as input a target y that can take on values (0,C)": class indices
  run from 0 to C-1, and C itself is out of range (``demo_class_index_range``); the target may
  also be float class probabilities of shape ``(N, C)`` (``demo_cross_entropy_inputs``).
* "BinaryCrossEntropy ... expects the predictions to be of shape (batch_size, 1)": any shape
  works as long as logits and float targets have the same shape; ``(N, 1)`` logits with ``(N,)``
  targets is an error (``demo_bce_with_logits_inputs``).
* "we use one sigmoid for each 0 and 1 prediction before feeding it into CrossEntropy": wrong
  recipe. CrossEntropyLoss wants raw logits; squashing them through a sigmoid (or a softmax) first
  puts a floor of 0.3133 under the loss, even for a certain, correct prediction
  (``demo_cross_entropy_wants_logits``).
* "sigma([-2.34, 3.45]) = [8.79%, 96.9%]": the numbers are right (``demo_notes_numbers``), and it is
  true that two independent sigmoids need not sum to 1, which is a feature for multi-label,
  not a flaw (``demo_multilabel_needs_independent_sigmoids``).
* "softmax([-2,34, 3,45]) = [0.3%, 99.7%]" (decimal commas; read literally the list has four
  logits and gives something else): with decimal points the numbers are right, but the
  conclusion "softmax tends to always be close to 0 and 1 for two classes, so it is only suitable
  for multi-class" is wrong. The 99.7% equals sigmoid(3.45 - (-2.34)): the confidence comes from
  the 5.79 logit gap, and close logits give probabilities near 50% (``demo_notes_numbers``,
  ``demo_gap_sets_the_confidence``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from refkit.engine.device import get_device, seed_everything
from refkit.engine.references import Reference

__all__ = [
    "REFERENCES",
    "TITLE",
    "demo_bce_vs_bce_with_logits_stability",
    "demo_bce_with_logits_inputs",
    "demo_both_losses_train_binary",
    "demo_class_index_range",
    "demo_cross_entropy_inputs",
    "demo_cross_entropy_wants_logits",
    "demo_gap_sets_the_confidence",
    "demo_multilabel_needs_independent_sigmoids",
    "demo_notes_numbers",
    "demo_two_class_softmax_is_sigmoid_of_gap",
    "percentages",
]

TITLE: str = "CrossEntropyLoss or BCEWithLogitsLoss: binary, multi-class and multi-label"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        url="https://medium.com/dejunhuang/learning-day-57-practical-5-loss-function-crossentropyloss-vs-bceloss-in-pytorch-softmax-vs-bd866c8a0d23",
        title="Learning Day 57: CrossEntropyLoss vs BCELoss in PyTorch, softmax vs sigmoid",
        good_for=(
            "A learning-diary post comparing the two PyTorch losses and softmax with sigmoid, "
            "the source of the notes' argument; read it with this page's corrections."
        ),
        search_query="pytorch cross entropy loss vs binarycrossentropy loss",
    ),
    Reference(
        url="https://stackoverflow.com/questions/59336899/which-loss-function-and-metrics-to-use-for-multi-label-classification-with-very",
        title=(
            "Which loss function and metrics to use for multi-label classification with very "
            "high ratio of negatives to positives? (Stack Overflow)"
        ),
        good_for=(
            "Sigmoid (binary) cross-entropy per label for multi-label problems, weighted when "
            "negatives dominate, and metrics that all-zero predictions cannot fool."
        ),
        search_query="multi label classification binarycross entorpy",
    ),
    Reference(
        url="https://towardsdatascience.com/cross-entropy-for-classification-d98e7f974451",
        title="Cross-Entropy for Classification (Towards Data Science)",
        good_for="A general introduction to cross-entropy losses for classification.",
        search_query="crossentropy loss for multi label classification",
    ),
    Reference(
        url="https://discuss.pytorch.org/t/what-kind-of-loss-is-better-to-use-in-multilabel-classification/32203",
        title="What kind of loss is better to use in multilabel classification? (PyTorch Forums)",
        good_for=(
            "A long forum thread: nn.BCEWithLogitsLoss on multi-hot targets for multi-label, "
            "and when a problem is really multi-class and wants nn.CrossEntropyLoss."
        ),
        search_query="loss function for multi label classification pytorch",
    ),
)


def percentages(probabilities: torch.Tensor, digits: int = 2) -> list[str]:
    """Format a 1-D tensor of probabilities as percentage strings.

    Args:
        probabilities: Values between 0 and 1, on any device.
        digits: Decimals to keep.

    Returns:
        One string per value, e.g. ``'8.79%'``.

    Examples:
        >>> percentages(torch.tensor([0.0879, 0.5]))
        ['8.79%', '50.00%']
    """
    return [f"{100 * p:.{digits}f}%" for p in probabilities.cpu().tolist()]


def demo_cross_entropy_inputs() -> None:
    """Show what ``CrossEntropyLoss`` accepts: logits ``(N, C)`` with long indices or float probs.

    Class indices must be ``long``; a float target is read as class probabilities and so must
    have the logits' shape. One-hot probabilities give the same loss as the indices.

    Examples:
        >>> demo_cross_entropy_inputs()
        logits (N, C): (3, 4)
        index target (N,) long: [2, 0, 3] -> loss 2.5383
        probability target (N, C) float (one-hot): loss 2.5383
        soft-label target (N, C) float: loss 2.4618
        float target of shape (N,) -> RuntimeError: expected target dtype to be Long or Byte, \
but got Float
    """
    seed_everything()
    device = get_device()
    loss_fn = nn.CrossEntropyLoss()
    logits = torch.randn(3, 4).to(device)  # drawn on the CPU: same numbers on every device
    labels = torch.tensor([2, 0, 3], device=device)
    print("logits (N, C):", tuple(logits.shape))
    print(f"index target (N,) long: {labels.cpu().tolist()} -> loss "
          f"{loss_fn(logits, labels).item():.4f}")
    one_hot = F.one_hot(labels, num_classes=4).float()
    print(f"probability target (N, C) float (one-hot): loss {loss_fn(logits, one_hot).item():.4f}")
    soft = 0.9 * one_hot + 0.1 / 4  # label smoothing, written out as a target
    print(f"soft-label target (N, C) float: loss {loss_fn(logits, soft).item():.4f}")
    try:
        loss_fn(logits, labels.float())
    except RuntimeError as err:
        print("float target of shape (N,) -> RuntimeError:", err)


def demo_class_index_range() -> None:
    """Show that class indices run from 0 to C-1 and that C itself is rejected.

    Cross-entropy picks, for each row, the log-probability in the target's column; with C
    columns the last one is C-1.

    Examples:
        >>> demo_class_index_range()
        C = 4 classes, valid targets: [0, 1, 2, 3]
        loss = mean of -log_softmax at the target column: True
        target 4 -> IndexError: Target 4 is out of bounds.
    """
    seed_everything()
    # Kept on the CPU on purpose: there an out-of-range index raises a catchable IndexError,
    # while on CUDA it trips a device-side assert that breaks the whole CUDA context.
    logits = torch.randn(4, 4)
    labels = torch.arange(4)
    print("C = 4 classes, valid targets:", labels.tolist())
    picked = -F.log_softmax(logits, dim=1)[torch.arange(4), labels]
    print("loss = mean of -log_softmax at the target column:",
          torch.allclose(F.cross_entropy(logits, labels), picked.mean(), atol=1e-6))
    try:
        F.cross_entropy(logits, torch.tensor([0, 1, 2, 4]))
    except IndexError as err:
        print("target 4 -> IndexError:", err)


def demo_bce_with_logits_inputs() -> None:
    """Show what ``BCEWithLogitsLoss`` accepts: logits and float targets of one shape.

    Binary problems use ``(N,)`` or ``(N, 1)``; multi-label ones ``(N, C)`` multi-hot. Integer
    targets and mismatched shapes are rejected.

    Examples:
        >>> demo_bce_with_logits_inputs()
        binary (N,) logits, (N,) float targets: loss 1.0124
        same as -mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))) by hand: True
        binary (N, 1) logits, (N, 1) float targets: loss 1.0124
        multi-label (N, C) logits, (N, C) multi-hot: loss 0.7345
        long targets -> RuntimeError: result type Float can't be cast to the desired output \
type Long
        (N, 1) logits with (N,) targets -> ValueError: Target size (torch.Size([3])) must be \
the same as input size (torch.Size([3, 1]))
    """
    seed_everything()
    device = get_device()
    loss_fn = nn.BCEWithLogitsLoss()
    logits = torch.randn(3).to(device)
    targets = torch.tensor([1.0, 0.0, 1.0], device=device)
    print(f"binary (N,) logits, (N,) float targets: loss {loss_fn(logits, targets).item():.4f}")
    # The loss applies the sigmoid itself: the textbook formula on sigmoid(logits) agrees.
    probs = torch.sigmoid(logits)
    by_hand = -(targets * probs.log() + (1 - targets) * (1 - probs).log()).mean()
    same = torch.allclose(loss_fn(logits, targets), by_hand, atol=1e-6)
    print(f"same as -mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))) by hand: {same}")
    column = loss_fn(logits.unsqueeze(1), targets.unsqueeze(1)).item()
    print(f"binary (N, 1) logits, (N, 1) float targets: loss {column:.4f}")
    label_logits = torch.randn(3, 4).to(device)
    multi_hot = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 1, 0]], device=device)
    print(f"multi-label (N, C) logits, (N, C) multi-hot: loss "
          f"{loss_fn(label_logits, multi_hot).item():.4f}")
    try:
        loss_fn(logits, targets.long())
    except RuntimeError as err:
        print("long targets -> RuntimeError:", err)
    try:
        loss_fn(logits.unsqueeze(1), targets)
    except ValueError as err:
        print("(N, 1) logits with (N,) targets -> ValueError:", err)


def demo_two_class_softmax_is_sigmoid_of_gap() -> None:
    """Show softmax over ``[a, b]`` equals ``sigmoid(b - a)``, so 2-logit CE equals 1-logit BCE.

    This is why cross-entropy with two outputs and binary cross-entropy with one output are the
    same model family for binary problems.

    Examples:
        >>> demo_two_class_softmax_is_sigmoid_of_gap()
        softmax(logits)[:, 1] == sigmoid(b - a): True
        CrossEntropyLoss on (N, 2) logits: 0.6185
        BCEWithLogitsLoss on b - a:        0.6185
        equal: True
    """
    seed_everything()
    device = get_device()
    logits = torch.randn(6, 2).to(device)  # columns: logit of class 0 (a), of class 1 (b)
    labels = torch.tensor([0, 1, 1, 0, 1, 0], device=device)
    gap = logits[:, 1] - logits[:, 0]
    same_probs = torch.allclose(torch.softmax(logits, dim=1)[:, 1], torch.sigmoid(gap), atol=1e-6)
    print("softmax(logits)[:, 1] == sigmoid(b - a):", same_probs)
    ce = F.cross_entropy(logits, labels)
    bce = F.binary_cross_entropy_with_logits(gap, labels.float())
    print(f"CrossEntropyLoss on (N, 2) logits: {ce.item():.4f}")
    print(f"BCEWithLogitsLoss on b - a:        {bce.item():.4f}")
    print("equal:", torch.allclose(ce, bce, atol=1e-6))


def demo_notes_numbers() -> None:
    """Recompute the notes' sigmoid and softmax numbers and find where the confidence comes from.

    The values in the notes are right (with decimal points), but softmax is not what makes
    two-class outputs extreme: the 5.79 gap between the logits is.

    Examples:
        >>> demo_notes_numbers()
        sigmoid([-2.34, 3.45]) = ['8.79%', '96.92%'], sum 105.71%
        softmax([-2.34, 3.45]) = ['0.30%', '99.70%']
        sigmoid(3.45 - (-2.34)) = ['99.70%']
        softmax([-2, 34, 3, 45]) (commas read literally) = ['0.00%', '0.00%', '0.00%', '100.00%']
        softmax([97.66, 103.45]) (both shifted by 100) = ['0.30%', '99.70%']
        softmax([-0.1, 0.1]) (small gap) = ['45.02%', '54.98%']
    """
    logits = torch.tensor([-2.34, 3.45], device=get_device())
    sigmoids = torch.sigmoid(logits)
    print(f"sigmoid([-2.34, 3.45]) = {percentages(sigmoids)}, "
          f"sum {100 * sigmoids.sum().item():.2f}%")
    print("softmax([-2.34, 3.45]) =", percentages(torch.softmax(logits, dim=0)))
    print("sigmoid(3.45 - (-2.34)) =", percentages(torch.sigmoid(logits[1:] - logits[:1])))
    literal = torch.tensor([-2.0, 34.0, 3.0, 45.0])
    print("softmax([-2, 34, 3, 45]) (commas read literally) =",
          percentages(torch.softmax(literal, dim=0)))
    # Softmax ignores a constant added to every logit: only the differences matter.
    print("softmax([97.66, 103.45]) (both shifted by 100) =",
          percentages(torch.softmax(logits + 100, dim=0)))
    print("softmax([-0.1, 0.1]) (small gap) =",
          percentages(torch.softmax(torch.tensor([-0.1, 0.1]), dim=0)))


def demo_gap_sets_the_confidence() -> None:
    """Draw ``sigmoid(b - a)`` and put the softmax of the notes' logit pairs on it.

    Every pair ``[a, b]`` lands on the sigmoid curve at its gap ``b - a``: the notes' pair at
    5.79 (99.70%), the same pair shifted by 100 on the very same spot, its reverse at -5.79
    (the notes' 0.30%), and two close logits near the middle (54.98%). Where a pair sits on the
    curve depends on the gap alone.

    Examples:
        >>> demo_gap_sets_the_confidence()
        softmax([a, b])[1] at gap b - a:
          [-2.34, 3.45] the notes' logits: gap 5.79 -> 99.70%
          [97.66, 103.45] both shifted by 100: gap 5.79 -> 99.70%
          [3.45, -2.34] the notes' logits swapped: gap -5.79 -> 0.30%
          [-0.1, 0.1] close logits: gap 0.2 -> 54.98%
        Two-class softmax against the sigmoid of the logit gap
        axes x: 'logit gap b - a' y: 'P(class 1)'
          line 'sigmoid(b - a)': x -8 -7.5 -7 -6.5 -6 -5.5 -5 -4.5 -4 -3.5 -3 -2.5 -2 -1.5 -1 \
-0.5 0 0.5 1 1.5 2 2.5 3 3.5 4 4.5 5 5.5 6 6.5 7 7.5 8; y 0.000335 0.000553 0.000911 0.0015 \
0.00247 0.00407 0.00669 0.011 0.018 0.0293 0.0474 0.0759 0.119 0.182 0.269 0.378 0.5 0.622 \
0.731 0.818 0.881 0.924 0.953 0.971 0.982 0.989 0.993 0.996 0.998 0.998 0.999 0.999 1
          line "the notes' logits": x 5.79; y 0.997
          line 'both shifted by 100': x 5.79; y 0.997
          line "the notes' logits swapped": x -5.79; y 0.00305
          line 'close logits': x 0.2; y 0.55
          text '99.70%'
          text '0.30%'
          text '54.98%'
          legend: 'sigmoid(b - a)', "the notes' logits", 'both shifted by 100', \
"the notes' logits swapped", 'close logits'
    """
    from matplotlib.figure import Figure

    from refkit.engine.display import show

    device = get_device()
    gaps = torch.linspace(-8, 8, 33, device=device)
    pairs = {
        "the notes' logits": [-2.34, 3.45],
        "both shifted by 100": [97.66, 103.45],
        "the notes' logits swapped": [3.45, -2.34],
        "close logits": [-0.1, 0.1],
    }
    figure = Figure(figsize=(6, 2.5))
    axes = figure.add_subplot(xlabel="logit gap b - a", ylabel="P(class 1)")
    axes.plot(gaps.cpu().tolist(), torch.sigmoid(gaps).cpu().tolist(), label="sigmoid(b - a)")
    markers = {"the notes' logits": "o", "both shifted by 100": "x"}
    print("softmax([a, b])[1] at gap b - a:")
    for name, pair in pairs.items():
        logits = torch.tensor(pair, device=device)
        gap = round((logits[1] - logits[0]).item(), 2)
        p_class_1 = torch.softmax(logits, dim=0)[1].item()
        print(f"  {pair} {name}: gap {gap:g} -> {100 * p_class_1:.2f}%")
        axes.plot(
            [gap], [p_class_1], marker=markers.get(name, "o"), markersize=9,
            linestyle="none", fillstyle="none", label=name,
        )
        if name != "both shifted by 100":  # same spot as the notes' pair: one label will do
            axes.annotate(
                f"{100 * p_class_1:.2f}%", (gap, p_class_1), xytext=(8, 6 if p_class_1 < 0.5 else -12),
                textcoords="offset points", fontsize="small",
            )
    axes.legend(loc="upper left", fontsize="small")
    show(figure, caption="Two-class softmax against the sigmoid of the logit gap")


def demo_cross_entropy_wants_logits() -> None:
    """Show that feeding sigmoid or softmax outputs to ``CrossEntropyLoss`` breaks it.

    The loss applies ``log_softmax`` itself; inputs squashed into [0, 1] can differ by at most 1,
    so even a certain, correct prediction cannot push the loss below -log(e / (1 + e)) = 0.3133.

    Examples:
        >>> demo_cross_entropy_wants_logits()
        raw logits [-20, 20], target 1:           loss 0.0000
        sigmoid of the logits fed to CE instead:  loss 0.3133
        softmax of the logits fed to CE instead:  loss 0.3133
    """
    logits = torch.tensor([[-20.0, 20.0]], device=get_device())  # certain of class 1
    target = torch.tensor([1], device=logits.device)
    print(f"raw logits [-20, 20], target 1:           loss "
          f"{F.cross_entropy(logits, target).item():.4f}")
    print(f"sigmoid of the logits fed to CE instead:  loss "
          f"{F.cross_entropy(torch.sigmoid(logits), target).item():.4f}")
    print(f"softmax of the logits fed to CE instead:  loss "
          f"{F.cross_entropy(torch.softmax(logits, dim=1), target).item():.4f}")


def demo_multilabel_needs_independent_sigmoids() -> None:
    """Show why multi-label problems use one sigmoid per label, not a softmax.

    A sample can carry labels 0 and 2 at once. Independent sigmoids can call both near-certain
    (and sum above 1); a softmax must share 100% between them.

    Examples:
        >>> demo_multilabel_needs_independent_sigmoids()
        logits for labels 0, 1, 2: [4.0, -4.0, 4.0]; true labels: [1.0, 0.0, 1.0]
        sigmoid per label: ['98.20%', '1.80%', '98.20%']
        softmax over labels: ['49.99%', '0.02%', '49.99%']
        BCEWithLogitsLoss: 0.0181
    """
    logits = torch.tensor([[4.0, -4.0, 4.0]], device=get_device())
    multi_hot = torch.tensor([[1.0, 0.0, 1.0]], device=logits.device)
    print(f"logits for labels 0, 1, 2: {logits[0].cpu().tolist()}; "
          f"true labels: {multi_hot[0].cpu().tolist()}")
    print("sigmoid per label:", percentages(torch.sigmoid(logits[0])))
    print("softmax over labels:", percentages(torch.softmax(logits[0], dim=0)))
    print(f"BCEWithLogitsLoss: {F.binary_cross_entropy_with_logits(logits, multi_hot).item():.4f}")


def demo_both_losses_train_binary() -> None:
    """Train the same binary problem with 2-logit CrossEntropy and 1-logit BCEWithLogits.

    Both learn it; choosing BCE for binary problems saves one output unit, nothing more.

    Examples:
        >>> demo_both_losses_train_binary()
        CrossEntropyLoss, Linear(2, 2): final loss 0.07, accuracy 1.00
        BCEWithLogitsLoss, Linear(2, 1): final loss 0.09, accuracy 1.00
        P(class 1 | (0.3, -0.1)): softmax of 2 logits 0.88, sigmoid of 1 logit 0.83
    """
    seed_everything()
    device = get_device()
    points = torch.randn(64, 2).to(device)
    labels = (points.sum(dim=1) > 0).long()  # class 1 above the line x + y = 0

    two_logits = nn.Linear(2, 2).to(device)
    one_logit = nn.Linear(2, 1).to(device)
    setups = (
        ("CrossEntropyLoss, Linear(2, 2)", two_logits,
         lambda out: F.cross_entropy(out, labels), lambda out: out.argmax(dim=1)),
        ("BCEWithLogitsLoss, Linear(2, 1)", one_logit,
         lambda out: F.binary_cross_entropy_with_logits(out.squeeze(1), labels.float()),
         lambda out: (out.squeeze(1) > 0).long()),
    )
    for name, model, loss_of, predict in setups:
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        for _ in range(300):
            optimizer.zero_grad()
            loss = loss_of(model(points))
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            outputs = model(points)
            accuracy = (predict(outputs) == labels).float().mean().item()
            print(f"{name}: final loss {loss_of(outputs).item():.2f}, accuracy {accuracy:.2f}")

    # Both models answer the same question: how likely is class 1 for a new point.
    probe = torch.tensor([[0.3, -0.1]], device=device)
    with torch.no_grad():
        p_softmax = torch.softmax(two_logits(probe), dim=1)[0, 1].item()
        p_sigmoid = torch.sigmoid(one_logit(probe))[0, 0].item()
    print(f"P(class 1 | (0.3, -0.1)): softmax of 2 logits {p_softmax:.2f}, "
          f"sigmoid of 1 logit {p_sigmoid:.2f}")


def demo_bce_vs_bce_with_logits_stability() -> None:
    """Compare ``BCELoss`` on ``sigmoid(z)`` with ``BCEWithLogitsLoss`` on ``z`` for a large logit.

    For z = 200 and target 0 the exact loss is softplus(200) = 200 and the gradient is 1.
    In float32 sigmoid(200) rounds to 1.0, so ``BCELoss`` clamps log(0) to -100 and its gradient
    vanishes; the fused loss stays exact.

    Examples:
        >>> demo_bce_vs_bce_with_logits_stability()
        sigmoid(200.0) in float32 == 1.0: True
        BCELoss(sigmoid(z), 0):   loss 100.0000, d loss / dz = 0.0000
        BCEWithLogitsLoss(z, 0):  loss 200.0000, d loss / dz = 1.0000
    """
    device = get_device()
    target = torch.tensor([0.0], device=device)
    print("sigmoid(200.0) in float32 == 1.0:",
          torch.sigmoid(torch.tensor(200.0, device=device)).item() == 1.0)
    losses = (
        ("BCELoss(sigmoid(z), 0):", lambda z: F.binary_cross_entropy(torch.sigmoid(z), target)),
        ("BCEWithLogitsLoss(z, 0):", lambda z: F.binary_cross_entropy_with_logits(z, target)),
    )
    for name, loss_of in losses:
        z = torch.tensor([200.0], device=device, requires_grad=True)
        loss = loss_of(z)
        loss.backward()
        print(f"{name:<25} loss {loss.item():.4f}, d loss / dz = {z.grad.item():.4f}")
