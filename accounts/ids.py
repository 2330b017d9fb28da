import os
import time


def new_object_id():
    """A 24-hex identifier shaped like a MongoDB ObjectId (4 bytes of seconds, 8 random bytes).

    360Learning clients expect `_id` values of this shape; they sort roughly by creation time.
    """
    return f"{int(time.time()):08x}{os.urandom(8).hex()}"
