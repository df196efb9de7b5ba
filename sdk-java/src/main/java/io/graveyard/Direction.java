package io.graveyard;

/** The direction of a read. */
public enum Direction { FORWARDS, BACKWARDS }
