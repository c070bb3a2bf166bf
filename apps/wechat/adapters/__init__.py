"""Adapters of the simulator and Wechaty channels (the Official Account and kf ones live in their
packages). The interface they implement is the spine's: apps.conversations.channels."""
