"""The reference service: how a Detektor service is built on the kit."""
