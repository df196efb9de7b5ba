package io.graveyard;

/**
 * The stream's current revision did not satisfy the expected version of a write; nothing was
 * written. Code {@link ErrorCode#WRONG_EXPECTED_VERSION}.
 */
public class WrongExpectedVersionException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    private final String stream;
    private final ExpectedVersion expected;
    private final CurrentRevision actual;

    public WrongExpectedVersionException(String message, String stream, ExpectedVersion expected,
            CurrentRevision actual) {
        super(ErrorCode.WRONG_EXPECTED_VERSION, message);
        this.stream = stream;
        this.expected = expected;
        this.actual = actual;
    }

    public String getStream() {
        return stream;
    }

    /** The condition the write asked for. */
    public ExpectedVersion getExpected() {
        return expected;
    }

    /** What the stream held when the write was refused. */
    public CurrentRevision getActual() {
        return actual;
    }
}
