"""RETURNN's dataset classes that seqtrain does not have, and what to use instead.

A RETURNN config naming one gets this advice instead of a bare "unknown dataset class". RETURNN's classes that
seqtrain has under the same name (HDFDataset, MetaDataset, CombinedDataset, Task12AXDataset, DummyDataset,
CopyTaskDataset, GeneratingDataset with its own tasks) are not listed. docs/returnn.md renders this table.
"""

from __future__ import annotations

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
    "TaskXmlModelingDataset": "not available (RETURNN's attention demos need rec sub-networks, not implemented)",
    "TaskNumberBaseConvertDataset": "not available (RETURNN's enc-dec demo needs rec sub-networks, not implemented)",
    "TaskEpisodicCopyDataset": "not available",
    "TaskVariableAssignmentDataset": "not available",
    "DummyDatasetMultipleSequenceLength": "not available; DummyDataset is",
    "DummyDatasetMultipleDataKeys": "not available; DummyDataset is",
    "DummyGenericDataset": "not available; DummyDataset is",
    "StaticDataset": "use NumpyDataset (arrays in the config)",
    "MegatronDataset": "not available",
    "NemoSpeechDataset": "use AudioDataset with a manifest",
    "TextDictDataset": "not available",
}


def returnn_dataset_advice(class_name: str) -> str | None:
    """The error text for a RETURNN dataset class seqtrain does not have; None if it is not one of those."""
    advice = ADVICE.get(class_name)
    return None if advice is None else f"RETURNN's {class_name} is not available in seqtrain: {advice}"
