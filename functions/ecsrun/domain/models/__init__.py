"""The shapes that cross the edges: the run request, ECS's task and event, the run record, log copy progress."""
