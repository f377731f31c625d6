#!/usr/bin/env python3
import walburst_worker                       # first: gates sqlite3.connect
from walburst_worker import Nothing
import myapp.jobs as jobs                    # your app, unchanged

def enqueue(op, actor):
    jobs.enqueue(actor.db_path, payload=op["payload"],
                 origin={"worker": actor.worker, "seq": op["seq"]})   # the identity

def take(op, actor):
    job = jobs.take_next(actor.db_path,
                         taken_by={"worker": actor.worker, "seq": op["seq"]})
    return Nothing("queue empty") if job is None else None

walburst_worker.serve({"create_task": enqueue, "claim_task": take}, app="myapp")
