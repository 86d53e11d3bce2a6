"""Generated from proto/meanstest/v1 by grpcio-tools; do not edit (tests/test_service_proto.py)."""
