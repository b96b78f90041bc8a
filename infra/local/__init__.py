"""The embedded one-machine stack: broker, object store, Milvus Lite, Triton and Ray on loopback."""
