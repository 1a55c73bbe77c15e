"""S3, in three jobs: stream a log into an object (writer), keep a paused copy's checkpoint (checkpoints), read
a run's copied logs back (archive)."""
