"""The model a run trains and uses: building it per epoch (functions, net dicts, pipeline stages, pretraining),
the contexts user steps talk to, parameter transfer between topologies, and loading a trained one."""
