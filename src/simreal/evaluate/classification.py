"""Classification metrics on a labeled dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from simreal.data.bank import ImageBank
from simreal.evaluate.predict import predict_outputs
from simreal.utils.errors import InputError


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``predictions == labels`` (both integer arrays of shape ``(N,)``)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or predictions.size == 0:
        raise InputError(f"need equal non-empty shapes, got {predictions.shape} and {labels.shape}")
    return float((predictions == labels).mean())


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """``(classes, classes)`` counts; row = true class, column = prediction."""
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(predictions)), 1)
    return m


def predict(model: torch.nn.Module, bank: ImageBank, batch_size: int = 512) -> np.ndarray:
    """Predicted class of every image in ``bank``, in dataset order."""
    return predict_outputs(model, bank, batch_size).argmax(1)


def evaluate_classifier(model: torch.nn.Module, bank: ImageBank, classes: int = 10) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix of ``model`` on a labeled bank."""
    preds = predict(model, bank)
    labels = bank.labels.numpy()
    cm = confusion_matrix(preds, labels, classes)
    per_class = (np.diag(cm) / np.maximum(cm.sum(1), 1)).round(4).tolist()
    return {"accuracy": accuracy(preds, labels), "per_class_accuracy": per_class, "count": len(labels),
            "confusion_matrix": cm.tolist()}
