"""Graph neural network: snapshot tensors, R-GCN, training, inference, evaluation, bundles."""
