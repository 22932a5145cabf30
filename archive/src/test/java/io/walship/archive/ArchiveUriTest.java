package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

class ArchiveUriTest {
    @Test
    void parsesFileAndS3() {
        assertEquals(new ArchiveUri.Local(Path.of("/var/backups/walship")), ArchiveUri.parse("file:///var/backups/walship/"));
        ArchiveUri.S3 s3 = (ArchiveUri.S3) ArchiveUri.parse(
                "s3://my-bucket/prod/db1?endpoint=http://127.0.0.1:9000&region=eu-west-1&path-style=true");
        assertEquals("my-bucket", s3.bucket());
        assertEquals("prod/db1", s3.prefix());
        assertEquals(URI.create("http://127.0.0.1:9000"), s3.endpoint());
        assertEquals("eu-west-1", s3.region());
        assertTrue(s3.pathStyle());
        assertEquals("s3://my-bucket/prod/db1?endpoint=http://127.0.0.1:9000&region=eu-west-1&path-style=true",
                s3.toString());
        ArchiveUri.S3 aws = (ArchiveUri.S3) ArchiveUri.parse("s3://my-bucket");
        assertEquals("", aws.prefix());
        assertEquals(false, aws.pathStyle());
    }

    @Test
    void credentialsNeverPrint() {
        ArchiveUri.S3 s3 = ((ArchiveUri.S3) ArchiveUri.parse("s3://b-1/p")).withCredentials("AKIA", "s3cr3t");
        assertTrue(!s3.toString().contains("s3cr3t") && !s3.toString().contains("AKIA"), s3.toString());
    }

    @Test
    void badUrisSayWhatIsWrong() {
        String[][] cases = {
                {"", "missing archive URI"},
                {"http://x/y", "the scheme must be file:// or s3://"},
                {"file://host/path", "use file:///absolute/path"},
                {"s3://Bad_Bucket/p", "valid bucket name"},
                {"s3://bucket/p?endpoint=ftp://x", "use http(s)://HOST:PORT"},
                {"s3://bucket/p?colour=red", "unknown option 'colour'"},
                {"s3://bucket/p?path-style=maybe", "path-style must be true or false"},
                {"s3://bucket/a//b", "bad prefix"},
        };
        for (String[] c : cases) {
            ArchiveConfigException e = assertThrows(ArchiveConfigException.class, () -> ArchiveUri.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }
}
