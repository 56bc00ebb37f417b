"""The music cue sheet: what the production reports to the rights societies, from the show file and the takes."""
