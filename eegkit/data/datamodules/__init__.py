"""LightningDataModules over the prepared arrays: sleep sequences (LODO domains) and windows."""
