"""RETURNN's dataset classes: those seqtrain has under the same name (`PROVIDED`), and what to use instead of the
others (`ADVICE`).

A RETURNN config naming a class of `ADVICE` gets that advice instead of a bare "unknown dataset class".
seqtrain's `GeneratingDataset` is its own (RETURNN's is an abstract base), so it is in neither. docs/returnn.md
renders both (seqtrain/cli/returnn_table.py).
"""

from __future__ import annotations

# RETURNN's classes that seqtrain has, with RETURNN's options and data (the generated ones bit for bit)
PROVIDED: tuple[str, ...] = (
    "HDFDataset", "MetaDataset", "CombinedDataset", "StaticDataset",
    "Task12AXDataset", "TaskEpisodicCopyDataset", "TaskXmlModelingDataset", "TaskVariableAssignmentDataset",
    "TaskNumberBaseConvertDataset", "CopyTaskDataset",
    "DummyDataset", "DummyDatasetMultipleSequenceLength", "DummyDatasetMultipleDataKeys",
)  # fmt: skip

_CONVERT = "convert it to HDF once (RETURNN's tools/hdf_dump.py) and read it with HDFDataset"

ADVICE: dict[str, str] = {
    "NltkTimitDataset": f"downloads TIMIT via NLTK and computes features in RETURNN; {_CONVERT}",
    "TimitDataset": _CONVERT,
    "LibriSpeechCorpus": f"{_CONVERT}, or AudioDataset with a manifest (docs/data.md)",
    "OggZipDataset": f"{_CONVERT}, or AudioDataset with a manifest of the audio files (docs/data.md)",
    "BlissDataset": f"{_CONVERT}, or AudioDataset with a manifest",
    "ExternSprintDataset": f"Sprint/RASR feature extraction is not available; {_CONVERT}",
    "SprintCacheDataset": f"Sprint caches are not read; {_CONVERT}",
    "LmDataset": f"text corpora: {_CONVERT}",
    "TranslationDataset": _CONVERT,
    "TranslationFactorsDataset": _CONVERT,
    "Enwik8Corpus": _CONVERT,
    "NextGenHDFDataset": "write the data in RETURNN's standard HDF layout (HDFDataset)",
    "SiameseHDFDataset": "not available",
    "StereoHdfDataset": "write the data in RETURNN's standard HDF layout (HDFDataset)",
    "NumpyDumpDataset": "use NumpyDataset",
    "RawWavDataset": "use AudioDataset with a manifest",
    "HuggingFaceDataset": _CONVERT,
    "DistributeFilesDataset": "give HDFDataset all files; multi-process runs shard the batches (docs/distributed.md)",
    "MultiProcDataset": "DataLoader workers do this: num_workers",
    "PostprocessingDataset": "do the processing in the dataset class (a Dataset subclass in the config)",
    "ConcatDataset": "use CombinedDataset",
    "ConcatSeqsDataset": "not available",
    "ChunkShuffleDataset": "chunking and seq_ordering do this (docs/data.md)",
    "ClusteringDataset": "not available",
    "ConfusionNetworkDataset": "not available",
    "VariableDataset": "a dataset per epoch: set train/dev in get_network's '#config' or a pipeline stage",
    "MultiEpochDataset": "use partition_epoch",
    "AnythingDataset": "not available",
    "MapDatasetWrapper": "write a Dataset subclass",
    "FromListDataset": "use NumpyDataset",
    "DummyGenericDataset": "not available; DummyDatasetMultipleDataKeys makes (non-random) data for any keys",
    "MegatronDataset": "not available",
    "NemoSpeechDataset": "use AudioDataset with a manifest",
    "TextDictDataset": "not available",
}


def returnn_dataset_advice(class_name: str) -> str | None:
    """The error text for a RETURNN dataset class seqtrain does not have; None if it is not one of those."""
    advice = ADVICE.get(class_name)
    return None if advice is None else f"RETURNN's {class_name} is not available in seqtrain: {advice}"
