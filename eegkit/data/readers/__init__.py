"""One module per dataset; each registers its reader with :func:`eegkit.data.register_dataset`."""
