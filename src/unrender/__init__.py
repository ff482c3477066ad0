"""unrender: intrinsic-image modalities of faces (albedo, normal, shading, shadow, lighting)
for deepfake detection."""

__version__ = "0.1.0"
