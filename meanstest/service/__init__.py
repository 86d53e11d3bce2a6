"""The gRPC service (docs/service.md): `meanstest serve`, its conversions, auth and journal."""
