"""On-the-fly audio augmentation for `AudioDataset` (option `augment`): a list of transforms applied in order to
each training utterance's samples before its features are computed.

    train = {"class": "AudioDataset", "manifest": "data/train.jsonl", ...,
             "augment": [
                 {"type": "speed", "factor": [0.9, 1.0, 1.1]},            # a list picks one value
                 {"type": "pitch", "semitones": (-2.0, 2.0), "prob": 0.3},  # a tuple draws from the range
                 {"type": "noise", "snr_db": (5, 25), "kinds": ["white", "pink", "brown"], "prob": 0.5},
                 {"type": "gain", "db": (-10, 10)},
             ]}

Every random choice of a sequence is drawn from a generator seeded by (random_seed, epoch, sequence index), so
the same sequence gets the same augmentation in a resumed run and with any number of loader workers, and a
new one every epoch. Every option (and `augment` itself) may be scheduled per epoch: `{epoch: value}` or a
function `f(epoch=...)`. Transforms that change the duration (speed, tempo) are drawn before the epoch is
planned, so batching sees the augmented lengths exactly.
"""
