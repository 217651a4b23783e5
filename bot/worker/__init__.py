"""The queue worker: runs the jobs the web side enqueued — answering, delivering, notifying, recovering."""
