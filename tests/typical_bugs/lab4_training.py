"""Lab 4: a training loop that never calls zero_grad, so the gradients add up from step to step."""

BUGS = {
    "train": """\
def train(model, loader, optimizer, epochs, device, show_progress=True):
    model.to(device)
    history = []
    for _ in progress(range(epochs), desc="training", disable=not show_progress):
        total, count = 0.0, 0
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()  # the bug: no optimizer.zero_grad(), .grad keeps every past gradient
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        history.append(total / count)
    return history
""",
}
# only the loop's own test loses points: every other graded cell tests its function on its own
# inputs, without training (the corpus training below it is not graded)
FAILS = {"train_tests"}
