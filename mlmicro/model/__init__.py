"""Pipelines, cross-validation, the trained model, its card and its one application path."""

from mlmicro.model.api import DEFAULT_TASK, train
from mlmicro.model.apply import Applied, PipelineRunner, apply_pipeline
from mlmicro.model.bundle import ModelVersionWarning, read_bundle, read_card, save_model
from mlmicro.model.card import ModelCard, library_versions
from mlmicro.model.insample import TrainingLookup
from mlmicro.model.labels import Target, Task, make_target
from mlmicro.model.legacy import convert_legacy_bundle
from mlmicro.model.model import InSampleWarning, Model, TrainingData, load_model

__all__ = [
    "DEFAULT_TASK",
    "Applied",
    "InSampleWarning",
    "Model",
    "ModelCard",
    "ModelVersionWarning",
    "PipelineRunner",
    "Target",
    "Task",
    "TrainingData",
    "TrainingLookup",
    "apply_pipeline",
    "convert_legacy_bundle",
    "library_versions",
    "load_model",
    "make_target",
    "read_bundle",
    "read_card",
    "save_model",
    "train",
]
