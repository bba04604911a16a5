"""Multi-person 2D keypoints: OpenPose network, targets (confidence maps, PAFs), decoding, training data."""
