package dev.moe.runtime.tensor;

/** A safetensors file that cannot be read: the message names the file and what is wrong with it. */
public class InvalidTensorFileException extends IllegalArgumentException {

  public InvalidTensorFileException(String message) {
    super(message);
  }

  public InvalidTensorFileException(String message, Throwable cause) {
    super(message, cause);
  }
}
