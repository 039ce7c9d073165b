"""One module per scheme: collective, harvest, machine, transistor, otto."""
