"""Loading show and patch files (YAML) into the frozen model, with file:line:col problems."""
