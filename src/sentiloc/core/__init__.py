"""What every layer may import: errors, atomic I/O, the timebase, configs, the registry, seeding.

``core`` imports nothing else of sentiloc; every other package may import it.
"""
