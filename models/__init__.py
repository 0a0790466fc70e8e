"""Pure PyTorch modules and training loops (importable with torch alone)."""
